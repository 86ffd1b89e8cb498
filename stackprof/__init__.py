"""stackprof: is this ML environment as fast as this hardware allows, and if not, why?"""

__version__ = "0.1.0"
