// The SDK version a code server reports in GetServerInfo; bumped with the contract's features.
export const SDK_VERSION = '0.1.0';
