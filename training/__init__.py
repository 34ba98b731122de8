"""awing training package: data, models, training, evaluation metrics and result plots."""
