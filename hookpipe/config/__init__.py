"""The pipeline's one configuration file: its schema (hookpipe.config.schema), how it is read and validated
(hookpipe.config.loading) and the units its values are written in (hookpipe.config.units).

Callers import from here: `load_config` is the only entry point the services and the commands use.
"""

from hookpipe.config.loading import (
    ConfigError,
    LoadedConfig,
    expand_variables,
    load_config,
    parse_config,
    redact_url,
)
from hookpipe.config.schema import (
    CREDENTIAL_HEADERS,
    VERIFY_KEYS,
    AdminConfig,
    ArchiveConfig,
    BreakerConfig,
    BrokerConfig,
    Config,
    DedupConfig,
    DelivererConfig,
    DestinationConfig,
    FieldSource,
    HandshakeConfig,
    InFlightLimits,
    IngestConfig,
    LogConfig,
    ResponseConfig,
    RetryConfig,
    RouteConfig,
    RouterConfig,
    SigningConfig,
    SourceConfig,
    TransformConfig,
    VerifyConfig,
    whsec_key,
)

__all__ = [
    "CREDENTIAL_HEADERS", "VERIFY_KEYS", "AdminConfig", "ArchiveConfig", "BreakerConfig", "BrokerConfig", "Config",
    "ConfigError",
    "DedupConfig", "DelivererConfig", "DestinationConfig", "FieldSource", "HandshakeConfig", "InFlightLimits",
    "IngestConfig", "LoadedConfig", "LogConfig", "ResponseConfig", "RetryConfig", "RouteConfig", "RouterConfig",
    "SigningConfig", "SourceConfig", "TransformConfig", "VerifyConfig", "expand_variables", "load_config",
    "parse_config", "redact_url", "whsec_key",
]
