"""Feature engineering: item features built from the processed data."""
