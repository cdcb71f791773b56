"""Video folder -> per-frame emotion timelines in Parquet, as a Ray Data job."""
