"""REST API for instruments, sync runs and health (DRF viewsets; bars live in ``prices.api``)."""
