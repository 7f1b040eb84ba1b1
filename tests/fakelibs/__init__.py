"""Library-like fakes for testing the conformance suite: each is a small library with its own API and
an adapter section, modelled on what real libraries do (and get wrong)."""
