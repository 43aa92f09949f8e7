"""Chart geometry: round axes, bars in proportion, gaps left as gaps."""
from abmcontent import charts


def test_axes_end_at_a_round_number_above_the_highest_value():
    assert charts.nice_max(44) == 60 and charts.nice_max(50_000) == 60_000 and charts.nice_max(0.333) == 0.4
    assert charts.nice_max(0) == 1.0 and charts.nice_max(float("nan")) == 1.0


def test_count_axes_step_in_whole_numbers():
    assert charts.nice_max(1, integer=True) == 4
    assert charts.nice_max(7, integer=True) == 8
    chart = charts.bar_chart(["a"], [1], str, integer=True)
    assert [tick.value for tick in chart.ticks] == [0, 1, 2, 3, 4]


def test_bars_are_as_tall_as_their_share_of_the_axis():
    chart = charts.bar_chart(["w1", "w2", "w3"], [30, 15, None], lambda v: f"{v:g}", width=400, height=200)
    plot_height, top = chart.baseline - charts.PAD_TOP, chart.ticks[-1].value
    assert top == 32  # four steps of 8
    first, second, missing = chart.bars
    assert first.height == round(plot_height * 30 / 32, 1) and second.height == round(plot_height * 15 / 32, 1)
    assert first.y + first.height == chart.baseline
    assert (missing.height, missing.text) == (0, "–")
    assert first.x < second.x < missing.x and first.x >= charts.PAD_LEFT


def test_a_missing_value_breaks_the_line_instead_of_dropping_to_zero():
    chart = charts.line_chart(["a", "b", "c", "d"], {"open": [0.5, None, 0.25, 0.5]}, str, top=1.0)
    [line] = chart.lines
    assert [p.index for p in line.points] == [0, 2, 3]
    assert line.path.count("M") == 2 and line.path.count("L") == 1


def test_crowded_axis_labels_are_thinned():
    labels = [f"Week {n}" for n in range(40)]
    chart = charts.bar_chart(labels, [1] * 40, str, width=400)
    assert 1 < len(chart.labels) < 40 and chart.labels[0][1] == "Week 0"


def test_funnel_steps_are_as_wide_as_their_share_of_the_first():
    steps = charts.funnel([("Target", 200, ""), ("Engaged", 50, ""), ("Won", 0, "")], width=400)
    assert [step.width for step in steps] == [400, 100, 0]
