"""Call quality scores: the E-model from the network, ViSQOL and PESQ from the audio."""
