"""galaxy_xai.data"""
