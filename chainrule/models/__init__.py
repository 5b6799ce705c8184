"""The model zoo: each model with the recipe it is trained by (loss, optimiser, batch size...).

``chainrule train MODEL`` looks models up here; ``get_recipe(name).build(input_shape, classes)``
makes one in a program.
"""

from chainrule.models.mlp import MLP
from chainrule.models.nielsen import Nielsen, quadratic_cost
from chainrule.models.registry import MODELS, Recipe, get_recipe

__all__ = ["MLP", "MODELS", "Nielsen", "Recipe", "get_recipe", "quadratic_cost"]
