"""Problems built on the core: dag_topo (TOPO DAG learning) and llm_evo (GENOME LoRA evolution)."""
