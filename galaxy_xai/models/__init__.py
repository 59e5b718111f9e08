"""galaxy_xai.models"""
