"""galaxy_xai.plots"""
