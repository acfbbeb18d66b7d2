// localhost.localstack.cloud and every name under it (and under localhost) resolve to the
// engine, in this process; in a Lambda worker (LOCALSTACK_NODOCKER_AWS_HOSTS_PORT set), AWS
// service host names do too, and connections to them go to the engine's port: code that
// ignores AWS_ENDPOINT_URL (the AWS SDK for JavaScript v2, a client built with a region and
// no endpoint) reaches the engine, which serves a certificate for each such name from the
// checkout's CA (tls.py).
// Loaded before the function with `node --require <this file>` (NODE_OPTIONS): it wraps
// dns.lookup, which net, tls, http(s) and fetch use, and net.Socket's connect; other names go
// to the system resolver unchanged, and nothing outside the process (/etc/hosts, DNS)
// changes. Node 12 and later (no newer syntax): every Node.js runtime loads it.
'use strict';

const dns = require('dns');
const net = require('net');

const DOMAIN = 'localhost.localstack.cloud';
const ENGINE_ADDRESS = '127.0.0.1'; // the engine listens on the loopback only (GATEWAY_LISTEN)
// The DNS suffixes of AWS's service endpoints, as preload/localstack_names.py has them.
const AWS_DOMAINS = ['amazonaws.com', 'amazonaws.com.cn'];
const AWS_PORT = Number(process.env.LOCALSTACK_NODOCKER_AWS_HOSTS_PORT) || null;

function nameOf(host) {
  return typeof host === 'string' ? host.replace(/\.$/, '').toLowerCase() : '';
}

// The names preload/localstack_names.py takes: LocalStack's domain, names under it, its
// host-prefixed forms (sync-localhost.localstack.cloud), and names under localhost (RFC 6761),
// where the engine's function URLs are.
function isEngineName(host) {
  const name = nameOf(host);
  return name === DOMAIN || [`.${DOMAIN}`, `-${DOMAIN}`, '.localhost'].some((suffix) => name.endsWith(suffix));
}

function isAwsName(host) {
  const name = nameOf(host);
  return AWS_DOMAINS.some((domain) => name.endsWith(`.${domain}`));
}

function takenByEngine(host) {
  return isEngineName(host) || (AWS_PORT !== null && isAwsName(host));
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
    if (!takenByEngine(hostname)) return systemLookup.apply(this, arguments);
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
    if (!takenByEngine(hostname)) return systemPromisesLookup.apply(this, arguments);
    options = normalise(options);
    const result = answer(hostname, options);
    return options.all ? [result] : result;
  };

  if (AWS_PORT !== null) {
    // Whatever port the client asks for (443, 80): the engine serves both on its own. The
    // host stays, so TLS still sends and verifies the AWS name.
    const systemConnect = net.Socket.prototype.connect;
    const toEngine = (options) => {
      if (options && typeof options === 'object' && isAwsName(options.host)) options.port = AWS_PORT;
    };
    net.Socket.prototype.connect = function connect(...args) {
      if (Array.isArray(args[0])) toEngine(args[0][0]); // [options, callback], as net and tls pass them
      else if (args[0] && typeof args[0] === 'object') toEngine(args[0]);
      else if (isAwsName(args[1])) args[0] = AWS_PORT; // connect(port, host[, callback])
      return systemConnect.apply(this, args);
    };
  }
}
