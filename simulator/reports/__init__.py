"""What a run leaves behind: records, replay input, stats, thresholds and reports."""
