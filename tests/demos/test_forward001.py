import numpy as np

from rnnlab.cli import main
from rnnlab.demos import forward001


def test_seed001_states_and_outputs_are_the_notes_numbers():
    states, outputs = forward001.run()
    np.testing.assert_allclose(states, [[0.53704957, 0.46211716], [0.85973818, 0.88366641]], atol=5e-9)
    np.testing.assert_allclose(outputs, [1.56128388, 2.72707101], atol=5e-9)


def test_demo_command_prints_the_notes_numbers(capsys):
    assert main(["demo", "forward001"]) == 0
    printed = capsys.readouterr().out
    assert "[0.53704957 0.46211716]" in printed and "2.72707101" in printed


def test_unknown_demo_is_a_usage_error(capsys):
    assert main(["demo", "no-such-demo"]) == 2
    assert "unknown demo" in capsys.readouterr().err
