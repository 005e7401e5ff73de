"""One router per concern: the engine's API and the pages."""
