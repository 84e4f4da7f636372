"""Where a warning should point: the user's line, however many cylayers frames lie between."""
import os
import sys

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def user_stacklevel():
    """warnings.warn's stacklevel, for the function that calls this one, of the first frame
    outside the cylayers package."""
    frame, level = sys._getframe(2), 2
    while frame is not None and frame.f_code.co_filename.startswith(PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level
