"""Differential conformance suite helpers: raw Fluvio frames, the two servers, transcripts."""
