# setuptools reads setup.cfg; this file lets `pip install ./clients/python` build with the
# setuptools already installed (Debian's python3-setuptools), without fetching anything.
from setuptools import setup

setup()
