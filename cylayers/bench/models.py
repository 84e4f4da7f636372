"""The example networks, written once against a library namespace (cylayers or torch), so the
benchmark trains exactly the same architecture in both."""


def self_normalizing_net(lib, in_features=64, hidden=256, classes=10, p=0.1):
    nn, F = lib.nn, lib.nn.functional

    class SelfNormalizingNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(in_features, hidden)
            self.alpha_dropout1 = nn.AlphaDropout(p)
            self.fc2 = nn.Linear(hidden, hidden)
            self.alpha_dropout2 = nn.AlphaDropout(p)
            self.fc3 = nn.Linear(hidden, classes)

        def forward(self, x):
            x = self.alpha_dropout1(F.selu(self.fc1(x)))
            x = self.alpha_dropout2(F.selu(self.fc2(x)))
            return self.fc3(x)
    return SelfNormalizingNet()


def conv_bn_relu_net(lib, in_channels=1, width=32, classes=10):
    nn = lib.nn

    def block(i, o):
        return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU())
    return nn.Sequential(block(in_channels, width), block(width, width), nn.MaxPool2d(2),
                         block(width, 2 * width), nn.MaxPool2d(2),
                         block(2 * width, 2 * width), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(2 * width, classes))


def complex_net(lib, in_channels=1, image_size=8, classes=10):
    nn, F = lib.nn, lib.nn.functional

    class ComplexNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(in_channels, 64, 3)
            self.dropout2d = nn.Dropout2d(0.2)
            self.fc1 = nn.Linear(64 * (image_size - 2) ** 2, 512)
            self.dropout = nn.Dropout(0.5)
            self.fc2 = nn.Linear(512, classes)

        def forward(self, x):
            x = self.dropout2d(F.relu(self.conv(x)))
            x = x.view(x.size(0), -1)
            return self.fc2(self.dropout(F.relu(self.fc1(x))))
    return ComplexNet()


def digits_cnn(lib, classes=10):
    """The CNN the speed issue measures: Conv2d(1,16,3,p=1)-BN-ReLU-Conv2d(16,32,3,p=1)-BN-ReLU-
    Dropout2d-Flatten-Linear(2048,10)."""
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                         nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                         nn.Dropout2d(0.2), nn.Flatten(), nn.Linear(32 * 8 * 8, classes))


def char_transformer(lib, vocab=80, d_model=128, heads=4, layers=2, context=128, dropout=0.0):
    """The char_lm example's causal Transformer: token + position embeddings, pre-norm
    encoder layers with a causal mask, a final LayerNorm and a linear head."""
    nn = lib.nn

    class CharTransformer(nn.Module):
        def __init__(self):
            super().__init__()
            self.token = nn.Embedding(vocab, d_model)
            self.position = nn.Embedding(context, d_model)
            layer = nn.TransformerEncoderLayer(d_model, heads, 4 * d_model, dropout,
                                               activation="gelu", batch_first=True,
                                               norm_first=True)
            extra = {"enable_nested_tensor": False} if lib.__name__ == "torch" else {}
            self.blocks = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(d_model),
                                                **extra)
            self.head = nn.Linear(d_model, vocab)

        def forward(self, idx):
            n = idx.size(1)
            mask = nn.Transformer.generate_square_subsequent_mask(n)
            h = self.token(idx) + self.position(lib.arange(n))
            return self.head(self.blocks(h, mask=mask, is_causal=True))
    return CharTransformer()


def char_lstm(lib, vocab=80, embed=64, hidden=256, layers=2, dropout=0.0):
    """The char_lm example's LSTM language model."""
    nn = lib.nn

    class CharLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.token = nn.Embedding(vocab, embed)
            self.lstm = nn.LSTM(embed, hidden, layers, batch_first=True, dropout=dropout)
            self.head = nn.Linear(hidden, vocab)

        def forward(self, idx, state=None):
            out, state = self.lstm(self.token(idx), state)
            return self.head(out)
    return CharLSTM()
