"""galaxy_xai.xai"""
