"""REST API for daily bars: one instrument's history (JSON pages or streamed CSV) and the latest-bar screen."""
