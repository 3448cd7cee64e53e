"""(package under construction: see the issues)"""
