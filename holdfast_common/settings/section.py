"""The base of every settings section: flat environment variables, any case, no prefix."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class Section(BaseSettings):
    """A group of settings read together; each field is the environment variable of its name
    (upper case by convention, any case accepted). Variables no section declares are ignored."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    @classmethod
    def variable_names(cls) -> dict[str, str]:
        """Each field's environment variable, upper case, by field name."""
        prefix = cls.model_config.get("env_prefix", "")
        return {name: f"{prefix}{name}".upper() for name in cls.model_fields}
