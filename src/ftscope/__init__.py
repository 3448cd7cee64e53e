"""ftscope: what did fine-tuning do to my model's generalization?"""

__version__ = "0.1.0"
