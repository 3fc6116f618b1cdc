"""Rasa-side extensions of the OFR assistant: NLU components and input channels."""
