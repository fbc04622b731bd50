// Filled in by the storage work.
