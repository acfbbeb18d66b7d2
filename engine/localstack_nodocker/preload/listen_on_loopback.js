// Every TCP server of this Node.js process listens on the loopback only. Loaded into
// kinesis-mock (`node --require <this file>`, NODE_OPTIONS; kinesis.py), which listens on
// 0.0.0.0 with no setting to change it: a listen on every interface (no host, 0.0.0.0, ::)
// goes to 127.0.0.1, and one on another address is refused, as the engine's own bind guard
// refuses it (listening.py). net.Server is what http, https and tls servers extend.
'use strict';

const net = require('net');

const LOOPBACK = '127.0.0.1';
const WILDCARDS = new Set([undefined, null, '', '0.0.0.0', '::']);

function loopbackHost(host) {
  if (WILDCARDS.has(host)) return LOOPBACK;
  if (host === 'localhost' || host === '::1' || /^127\./.test(host)) return host;
  throw new Error(`the engine listens on the loopback only: refused to listen on ${host}`);
}

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function listenOnLoopback(...args) {
  const [first] = args;
  if (first !== null && typeof first === 'object' && !('port' in first)) {
    return listen.apply(this, args); // a handle, or a Unix socket path in an options object
  }
  if (first !== null && typeof first === 'object') {
    return listen.call(this, { ...first, host: loopbackHost(first.host) }, ...args.slice(1));
  }
  if (typeof first === 'string' && !/^\d+$/.test(first)) {
    return listen.apply(this, args); // a Unix socket path
  }
  // (port?, host?, backlog?, callback?): the port may be left out, the host may be
  const port = typeof first === 'function' || first === undefined ? 0 : first;
  const rest = typeof first === 'function' ? args : args.slice(1);
  const host = typeof rest[0] === 'string' ? rest.shift() : undefined;
  return listen.call(this, port, loopbackHost(host), ...rest);
};
