"""seqpipe: raw text corpus to a trained, evaluated and served recurrent model, tracked in MLflow."""
