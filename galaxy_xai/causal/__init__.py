"""galaxy_xai.causal"""
