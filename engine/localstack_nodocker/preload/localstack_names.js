// localhost.localstack.cloud and every name under it resolve to the engine, in this process.
// Loaded before the function with `node --require <this file>` (NODE_OPTIONS): it wraps
// dns.lookup, which net, tls, http(s) and fetch use; other names go to the system resolver
// unchanged, and nothing outside the process (/etc/hosts, DNS) changes.
'use strict';

const dns = require('dns');

const DOMAIN = 'localhost.localstack.cloud';
const ENGINE_ADDRESS = '127.0.0.1'; // the engine listens on the loopback only (GATEWAY_LISTEN)

function isEngineName(host) {
  if (typeof host !== 'string') return false;
  const name = host.replace(/\.$/, '').toLowerCase();
  return name === DOMAIN || name.endsWith(`.${DOMAIN}`);
}

function normalise(options) {
  if (typeof options === 'number') return { family: options };
  return options || {};
}

function answer(hostname, options) {
  // An IPv6-only lookup fails as it would for a name with only an IPv4 address.
  if (options.family === 6 || options.family === 'IPv6') {
    const error = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
    Object.assign(error, { code: 'ENOTFOUND', errno: -3008, syscall: 'getaddrinfo', hostname });
    throw error;
  }
  return { address: ENGINE_ADDRESS, family: 4 };
}

if (!dns.lookup.resolvesEngineNames) {
  const systemLookup = dns.lookup;
  dns.lookup = function lookup(hostname, options, callback) {
    if (!isEngineName(hostname)) return systemLookup.apply(this, arguments);
    if (typeof options === 'function') {
      callback = options;
      options = {};
    }
    options = normalise(options);
    let result;
    try {
      result = answer(hostname, options);
    } catch (error) {
      process.nextTick(callback, error);
      return {};
    }
    if (options.all) process.nextTick(callback, null, [result]);
    else process.nextTick(callback, null, result.address, result.family);
    return {};
  };
  dns.lookup.resolvesEngineNames = true;

  const systemPromisesLookup = dns.promises.lookup;
  dns.promises.lookup = async function lookup(hostname, options) {
    if (!isEngineName(hostname)) return systemPromisesLookup.apply(this, arguments);
    options = normalise(options);
    const result = answer(hostname, options);
    return options.all ? [result] : result;
  };
}
