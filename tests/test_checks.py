"""The bounds of rnnlab.checks hold wherever settings enter, a checkpoint's JSON included."""

import tracemalloc

import pytest

from rnnlab import checks
from rnnlab.errors import InvalidArgument
from rnnlab.tasks.charlm_config import CharLMConfig
from rnnlab.tasks.classify_config import ClassifyConfig
from rnnlab.tasks.forecast_config import ForecastConfig
from rnnlab.tasks.tag_config import TagConfig


@pytest.mark.parametrize("config_class", [CharLMConfig, ClassifyConfig, TagConfig, ForecastConfig])
@pytest.mark.parametrize("hidden_size", [10**9, 2**16])  # above MAX_UNITS; within it but with too many weights
def test_from_json_refuses_an_absurd_hidden_size_before_building_anything(config_class, hidden_size):
    saved = config_class().to_json() | {"hidden_size": hidden_size}  # as a checkpoint's JSON would hold it
    tracemalloc.start()
    try:
        with pytest.raises(InvalidArgument, match="`hidden_size`") as caught:
            config_class.from_json(saved)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.got == hidden_size
    assert peak < 2**20, f"{peak} bytes allocated before the refusal"


def test_the_bounds_admit_the_presets_and_refuse_one_past_them():
    from rnnlab.tasks.charlm_config import PRESETS

    assert all(isinstance(preset, CharLMConfig) for preset in PRESETS.values())  # built, so within the bounds
    for name, bound in (("num_layers", checks.MAX_LAYERS), ("seq_len", checks.MAX_LENGTH),
                        ("batch_size", checks.MAX_BATCH_SIZE), ("max_steps", checks.MAX_STEPS),
                        ("seed", checks.MAX_SEED)):
        with pytest.raises(InvalidArgument, match=f"`{name}`"):
            CharLMConfig(**{name: bound + 1})
    assert CharLMConfig(num_layers=checks.MAX_LAYERS, hidden_size=8).num_layers == checks.MAX_LAYERS


def test_recurrent_weights_counts_like_the_engine():
    from rnnlab.nn.models import ModelConfig, SequenceModel

    model = SequenceModel(ModelConfig(5, 5, "lstm", 7, 2, 0.0, False, 3))
    recurrent = sum(p.size for name, p in model.state_dict().items() if name.startswith("rnn."))
    assert checks.recurrent_weights("lstm", 3, 7, 2) == recurrent
