"""One router per concern: the engine's API, the labs and the pages."""
