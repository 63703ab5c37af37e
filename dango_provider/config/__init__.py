from dango_provider.config.loader import Project, find_sources_file, load_project
from dango_provider.config.model import Source, SourcesFile

__all__ = ["Project", "Source", "SourcesFile", "find_sources_file", "load_project"]
