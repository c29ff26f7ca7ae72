"""The shared recurrent encoder: stacked, optionally bidirectional RNN, GRU or LSTM layers."""

from __future__ import annotations

import keras

CELLS = {"rnn": keras.layers.SimpleRNN, "gru": keras.layers.GRU, "lstm": keras.layers.LSTM}


@keras.saving.register_keras_serializable(package="seqpipe")
class RecurrentEncoder(keras.layers.Layer):
    """Stacked recurrent layers over a masked sequence, returning every time step.

    Args:
        cell: `rnn` (Elman), `gru` or `lstm`.
        layers: how many recurrent layers are stacked.
        hidden_dim: units per direction.
        bidirectional: run each layer both ways and concatenate (Schuster and Paliwal 1997).
        dropout: dropout between layers (not on the recurrent connections, which keeps the fused
            cuDNN path open on a GPU).

    Call args:
        inputs: float [batch, time, features].
        mask: bool [batch, time], True on real tokens (right padded).

    Returns:
        float [batch, time, hidden_dim * (2 if bidirectional else 1)].
    """

    def __init__(
        self,
        cell: str = "lstm",
        layers: int = 1,
        hidden_dim: int = 128,
        bidirectional: bool = True,
        dropout: float = 0.0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if cell not in CELLS:
            raise ValueError(f"unknown cell {cell!r} (available: {', '.join(CELLS)})")
        self.cell = cell
        self.layers = layers
        self.hidden_dim = hidden_dim
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.recurrent_layers = []
        for index in range(layers):
            layer = CELLS[cell](hidden_dim, return_sequences=True, name=f"{cell}_{index}")
            if bidirectional:
                layer = keras.layers.Bidirectional(layer, name=f"bidirectional_{cell}_{index}")
            self.recurrent_layers.append(layer)
        self.dropouts = [keras.layers.Dropout(dropout) for _ in range(layers - 1)]
        self.supports_masking = True

    def build(self, input_shape):
        shape = input_shape
        for index, layer in enumerate(self.recurrent_layers):
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
            if index < len(self.dropouts):
                self.dropouts[index].build(shape)
        self.built = True

    def call(self, inputs, mask=None, training=None):
        outputs = inputs
        for index, layer in enumerate(self.recurrent_layers):
            outputs = layer(outputs, mask=mask, training=training)
            if index < len(self.dropouts):
                outputs = self.dropouts[index](outputs, training=training)
        return outputs

    def compute_output_shape(self, input_shape):
        directions = 2 if self.bidirectional else 1
        return (*input_shape[:-1], self.hidden_dim * directions)

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        return {
            **super().get_config(),
            "cell": self.cell,
            "layers": self.layers,
            "hidden_dim": self.hidden_dim,
            "bidirectional": self.bidirectional,
            "dropout": self.dropout,
        }
