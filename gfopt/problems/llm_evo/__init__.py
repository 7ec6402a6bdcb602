"""llm_evo: GENOME / GENOME+ evolution of LoRA experts on one frozen base model."""
