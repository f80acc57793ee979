"""Oracle Field Service: the tolerant reader of its events and the Events API poller."""

from adapters.ofs.translate import TranslationError, page_next, translate

__all__ = ["TranslationError", "page_next", "translate"]
