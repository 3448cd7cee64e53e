import pytest
import torch


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: launches several training processes (over a minute)")


@pytest.fixture(scope="module")
def tiny(tiny_model_dir, paper_data):
    # One thread: a toy model gains nothing from two, and loses much when other jobs share the cores.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield tiny_model_dir
    torch.set_num_threads(threads)
