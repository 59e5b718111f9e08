"""galaxy_xai.info"""
