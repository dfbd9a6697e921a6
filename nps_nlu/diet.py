"""Rasa's DIETClassifier, loaded in seconds instead of a minute.

To build its weights before reading them from the model, Rasa's loader fits
one example through Keras in graph mode: TensorFlow traces the whole training
step, the two CRFs for entities and their pos/neg roles included, and on two
cores that took 60-85 s of every `rasa run`'s start (profiled with cProfile
around ``Agent.load``; 83.7 s of 85.2 in ``RasaModel.load``'s ``fit``). The
traced training step is then thrown away: a loaded model only predicts.

This class runs that one build step eagerly (no tracing, 2 s), then switches
the model back to graph mode and traces the prediction step at once, as Rasa
does, so the first customer's message is as quick as any other. Training is
Rasa's own, with the same seed, so the weights and every prediction are the
same (tests/test_diet_load.py compares the two loaders message by message).

The class keeps the name "DIETClassifier" on the entities it extracts: the
polarity classifier, `rasa test nlu` and the analytics read that name.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.diet_classifier import DIETClassifier
from rasa.shared.nlu.constants import TEXT
from rasa.utils.tensorflow.constants import RUN_EAGERLY
from rasa.utils.tensorflow.model_data import RasaModelData
from rasa.utils.tensorflow.models import RasaModel

# Rasa's training-time validator asks whether DIETClassifier itself is in the
# pipeline (an exact type, not a subclass) and would tell the trainer, at every
# `make train`, to add the entity extractor they already have. Only these two
# warnings, and only once this class is in the pipeline (this module is imported).
warnings.filterwarnings(
    "ignore",
    message=r"You have defined training data (consisting of entity examples|with entities that "
    r"have roles/groups), but your NLU configuration does not include",
    category=UserWarning,
)


@DefaultV1Recipe.register(
    [
        DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER,
        DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR,
    ],
    is_trainable=True,
)
class FastLoadDIETClassifier(DIETClassifier):
    # False: Rasa's own loader, for comparing the two (tests/test_diet_load.py,
    # make bench-start).
    build_eagerly = True

    @property
    def name(self) -> str:
        return DIETClassifier.__name__

    @classmethod
    def _load_model_class(
        cls,
        tf_model_file: str,
        model_data_example: RasaModelData,
        label_data: RasaModelData,
        entity_tag_specs: list,
        config: dict[str, Any],
        finetune_mode: bool,
    ) -> RasaModel:
        if finetune_mode or config.get(RUN_EAGERLY) or not cls.build_eagerly:
            # Fine-tuning trains on from these weights: Rasa's own path, in graph mode.
            return super()._load_model_class(
                tf_model_file,
                model_data_example,
                label_data,
                entity_tag_specs,
                config,
                finetune_mode,
            )
        eager = copy.deepcopy(config)
        eager[RUN_EAGERLY] = True
        model = super()._load_model_class(
            tf_model_file, model_data_example, label_data, entity_tag_specs, eager, finetune_mode
        )
        # Back to graph mode for predicting, with the configuration it was trained with.
        model.run_eagerly = False
        model.config[RUN_EAGERLY] = config.get(RUN_EAGERLY, False)
        model.run_inference(
            RasaModelData(
                label_key=model_data_example.label_key,
                data={name: f for name, f in model_data_example.items() if TEXT in name},
            )
        )
        return model
