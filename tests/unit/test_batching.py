from ftscope.models.batching import common_prefix_len, length_batches, shared_prefix_len, split_trailing_space


def test_trailing_space_moves_to_the_continuation():
    assert split_trailing_space("The relation is ", "neutral") == ("The relation is", " neutral")
    assert split_trailing_space("Sentiment:", "positive") == ("Sentiment:", "positive")


def test_shared_prefix_keeps_one_token_per_row():
    assert common_prefix_len([1, 2, 3], [1, 2, 4]) == 2
    assert shared_prefix_len([1, 2, 3], [[1, 2, 3, 4], [1, 2, 3, 5, 6]]) == 3
    assert shared_prefix_len([1, 2, 3], [[1, 2, 3]]) == 2  # the row must keep a token to run
    assert shared_prefix_len([1, 2, 3], [[1, 9], [1, 2, 3, 4]]) == 1


def test_length_batches_group_longest_first_within_budget():
    batches = length_batches([5, 50, 6, 49, 7], max_tokens=100, max_rows=8)
    assert batches[0] == [1, 3]  # 2 rows × 50 tokens fill the budget
    assert sorted(i for b in batches for i in b) == [0, 1, 2, 3, 4]
    assert all(len(b) <= 2 for b in length_batches([1] * 5, 1000, 2))
