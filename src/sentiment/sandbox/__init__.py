"""Demo and test tooling, not part of the pipeline: the seeded synthetic world and the exchange replay server.

``simulate`` writes chat exports and candles with or without a planted lead (``python -m
sentiment.sandbox.simulate``); ``replay`` answers on loopback in Gate's and Binance's real REST wire format so real
ccxt exchange classes fetch recorded candles offline.
"""
