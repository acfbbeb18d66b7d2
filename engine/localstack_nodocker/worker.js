// Lambda worker for Node.js: runs one function in this process, one invocation at a time.
//
// The same protocol as worker.py, one JSON object per line: requests on stdin
// {"request_id", "payload", "invoked_function_arn", "deadline_ms"}; frames on the descriptor
// named by _LAMBDA_WORKER_PROTOCOL_FD: {"ready"} or {"init_error"} (then it exits, as AWS's
// runtime does), {"log"}, {"result", "error", "max_rss_kb"} ("fatal": true when the runtime
// must be replaced after it, as after an uncaught exception). No arguments (a runtime wrapper
// may add options before this file's name, the last one): the code folder is LAMBDA_TASK_ROOT.
// Errors have the shape and the words of AWS's runtime interface client
// (aws-lambda-nodejs-runtime-interface-client: Errors.js, UserFunction.js, Runtime.js).
// stdout and stderr of anything below JavaScript (native code, child processes) go to the
// environment's own log; console.* and process.stdout/stderr writes become log frames, in
// the format of AWS's Node.js runtime, in log frames of at most LOG_PIECE_UNITS UTF-16 code
// units. A result or error over LOCALSTACK_MAX_PAYLOAD_SIZE bytes (as worker.py) is replaced
// by Lambda's own error, Function.ResponseSizeTooLarge. It runs on every Node.js runtime,
// nodejs12.x on: no syntax newer than Node 12's.
"use strict";

const fs = require("fs");
const path = require("path");
const { Writable } = require("stream");
const util = require("util");
const { pathToFileURL } = require("url");

const PROTOCOL_FD = Number(process.env._LAMBDA_WORKER_PROTOCOL_FD);
delete process.env._LAMBDA_WORKER_PROTOCOL_FD;
const CODE_DIR = process.env.LAMBDA_TASK_ROOT;
// Where the function's code and layers are here, and where AWS's sandbox has them: its
// traces name the sandbox's paths.
const SANDBOX_DIRS = [[CODE_DIR, "/var/task"], [process.env.LAMBDA_OPT_DIR, "/opt"]].filter((dirs) => dirs[0]);
// Handler output is sent in pieces: a frame stays small whatever one write holds.
const LOG_PIECE_UNITS = 64 * 1024;
// AWS's limit for a function's response (6 MiB + 100 bytes); LocalStack sets the variable.
const MAX_RESPONSE_BYTES = Number(process.env.LOCALSTACK_MAX_PAYLOAD_SIZE) || 6 * 1024 * 1024 + 100;

function send(frame) {
  const line = Buffer.from(JSON.stringify(frame) + "\n");
  let written = 0;
  while (written < line.length) {
    written += fs.writeSync(PROTOCOL_FD, line, written);
  }
}

function sendLog(text) {
  for (let start = 0; start < text.length; ) {
    let end = Math.min(start + LOG_PIECE_UNITS, text.length);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end -= 1; // keep a surrogate pair whole
    send({ log: text.slice(start, end) });
    start = end;
  }
}

let currentRequestId;

function log(level, text) {
  sendLog(`${new Date().toISOString()}\t${currentRequestId || "undefined"}\t${level}\t${text}\n`);
}

for (const [method, level] of [["log", "INFO"], ["info", "INFO"], ["warn", "WARN"], ["error", "ERROR"],
                               ["debug", "DEBUG"], ["trace", "TRACE"]]) {
  console[method] = (...args) => log(level, util.format(...args));
}
for (const stream of [process.stdout, process.stderr]) {
  stream.write = (chunk, encoding, callback) => {
    sendLog(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
    const done = typeof encoding === "function" ? encoding : callback;
    if (done) process.nextTick(done);
    return true;
  };
}

function isErrorLike(value) {
  return Boolean(value && value.name && value.message && value.stack && typeof value.name === "string" &&
    typeof value.message === "string" && typeof value.stack === "string");
}

function sandboxPaths(stack) {
  return SANDBOX_DIRS.reduce((text, [here, sandbox]) => text.split(here + "/").join(sandbox + "/"), stack);
}

// An error as the invoke's answer: AWS's toRapidResponse (DEL escaped as it escapes it).
function errorShape(error) {
  const escape = (text) => (text == null ? text : text.split("\x7F").join("%7F"));
  try {
    if (util.types.isNativeError(error) || isErrorLike(error)) {
      const trace = escape(sandboxPaths(error.stack)).split("\n");
      return { errorType: escape(error.name), errorMessage: escape(error.message), trace };
    }
    return { errorType: typeof error, errorMessage: error.toString(), trace: [] };
  } catch (_) {
    return {
      errorType: "handled",
      errorMessage: "callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack",
    };
  }
}

// An error in the log: AWS's toFormatted (name, message, code, the error's own properties,
// the stack as lines), after a tab.
function formatted(error) {
  const asError = util.types.isNativeError(error) || error instanceof Error ? error : new Error(error);
  try {
    return "\t" + JSON.stringify(asError, (_key, value) => {
      if (!(value instanceof Error)) return value;
      const shown = Object.assign({ errorType: value.name, errorMessage: value.message, code: value.code }, value);
      if (typeof value.stack === "string") shown.stack = sandboxPaths(value.stack).split("\n");
      return shown;
    });
  } catch (_) {
    return "\t" + JSON.stringify(errorShape(asError));
  }
}

function peakRssKb() {
  const match = /VmHWM:\s+(\d+)/.exec(fs.readFileSync("/proc/self/status", "utf8"));
  return match ? Number(match[1]) : 0;
}

// --- loading the handler, as AWS's runtime does -------------------------------------------

function isModulePackage(directory) {
  // the nearest package.json decides whether a .js file is an ES module
  for (let dir = directory; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, "package.json");
    if (fs.existsSync(manifest)) {
      try {
        return JSON.parse(fs.readFileSync(manifest, "utf8")).type === "module";
      } catch {
        return false;
      }
    }
    if (dir === path.dirname(dir) || dir === path.dirname(CODE_DIR)) return false;
  }
}

async function loadModule(modulePath) {
  for (const extension of [".js", ".mjs", ".cjs"]) {
    const file = path.resolve(CODE_DIR, modulePath + extension);
    if (!fs.existsSync(file)) continue;
    if (extension === ".mjs" || (extension === ".js" && isModulePackage(path.dirname(file)))) {
      return import(pathToFileURL(file).href);
    }
    return require(file);
  }
  // no file of that name: a package or a module on NODE_PATH, as require() finds it
  return require(modulePath);
}

class RuntimeError extends Error {
  constructor(name, message) {
    super(message);
    // not enumerable, as on AWS's error classes (where it is the prototype's): not in logs twice
    Object.defineProperty(this, "name", { value: name, writable: true, configurable: true });
  }
}

async function loadHandler(spec) {
  spec = spec || "";
  if (spec.includes("..")) {
    throw new RuntimeError(
      "Runtime.MalformedHandlerName",
      `'${spec}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const match = /^([^.]*)\.(.*)$/.exec(path.basename(spec));
  if (!match) {
    throw new RuntimeError("Runtime.MalformedHandlerName", "Bad handler");
  }
  const modulePath = path.join(path.dirname(spec), match[1]);
  let module;
  try {
    module = await loadModule(modulePath);
  } catch (error) {
    // AWS's two: a syntax error, and a CommonJS module not found (an ES import of a missing
    // package stays Node's own error there too); the message is the error as text
    if (error instanceof SyntaxError) {
      throw new RuntimeError("Runtime.UserCodeSyntaxError", String(error));
    }
    if (error && error.code === "MODULE_NOT_FOUND") {
      throw new RuntimeError("Runtime.ImportModuleError", String(error));
    }
    throw error;
  }
  let handler = module;
  for (const part of match[2].split(".")) {
    handler = handler == null ? undefined : handler[part];
  }
  if (handler === undefined && module && module.default) {
    handler = match[2].split(".").reduce((value, part) => (value == null ? undefined : value[part]), module.default);
  }
  if (!handler) {
    throw new RuntimeError("Runtime.HandlerNotFound", `${spec} is undefined or not exported`);
  }
  if (typeof handler !== "function") {
    throw new RuntimeError("Runtime.HandlerNotFound", `${spec} is not a function`);
  }
  return handler;
}

// --- response streaming: the runtime's `awslambda` global ----------------------------------
// As AWS's Node.js runtime gives it (its UserFunction.js, HttpResponseStream.js, Runtime.js).
// There is no streamed invoke here (LocalStack has none either): what the handler writes is
// the invoke's answer, whole; LocalStack's function URLs read an HttpResponseStream's prelude
// (its JSON and 8 NUL bytes) off the front.
const STREAMING = Symbol("streaming");

class ResponseStream extends Writable {
  constructor() {
    super();
    this.chunks = [];
    this.prelude = null; // written before the first chunk, as AWS's runtime writes it
    this.finished = new Promise((resolve) => this.on("finish", resolve));
  }

  setContentType() {} // the invoke's answer has no content type of its own here

  _write(chunk, _encoding, callback) {
    if (this.prelude !== null) {
      this.chunks.push(Buffer.from(this.prelude));
      this.prelude = null;
    }
    this.chunks.push(chunk);
    callback();
  }

  body() {
    return Buffer.concat(this.chunks).toString("utf8");
  }
}

global.awslambda = {
  streamifyResponse(handler) {
    handler[STREAMING] = true;
    return handler;
  },
  HttpResponseStream: {
    from(stream, prelude) {
      stream.setContentType("application/vnd.awslambda.http-integration-response");
      stream.prelude = JSON.stringify(prelude) + "\0".repeat(8);
      return stream;
    },
  },
};

// AWS's runtime's checks and words; a failure is the invoke's error, as AWS posts it.
function invokeStreaming(handler, event, context, settle) {
  const stream = new ResponseStream();
  const returned = handler(event, stream, context);
  if (!returned || typeof returned.then !== "function") {
    settle("Streaming does not support non-async handlers.");
    return;
  }
  returned.then((result) => {
    if (result !== undefined) console.warn("Streaming handlers ignore return values.");
    if (!stream.writableEnded) {
      settle("Response stream is not finished.");
      return;
    }
    stream.finished.then(() => settle(null, undefined, false, stream.body()));
  }, (error) => settle(error == null ? HANDLED : error));
}

// --- one invocation -------------------------------------------------------------------------

function makeContext(request, settle) {
  const env = process.env;
  return {
    awsRequestId: request.request_id,
    invokedFunctionArn: request.invoked_function_arn,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    identity: undefined,
    clientContext: undefined,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, Math.floor(request.deadline_ms - Date.now())),
    succeed: (result) => settle(null, result),
    fail: (error) => settle(error == null ? HANDLED : error),
    done: (error, result) => settle(error, result),
  };
}

let finishInvocation = null; // settles the invocation in progress (uncaught errors use it too)
let ready = false; // the handler is loaded: an uncaught error is no longer the init's
// What AWS's runtime reports for a failure without an error (context.fail(), a rejection with nothing).
const HANDLED = "handled";

function invoke(handler, request) {
  return new Promise((resolve) => {
    let settled = false;
    // streamed: what a streaming handler wrote, the answer as it is
    const settle = (error, result, fatal = false, streamed = undefined) => {
      if (settled) return;
      settled = true;
      resolve({ error, result, fatal, streamed });
    };
    finishInvocation = settle;
    let event;
    try {
      event = request.payload ? JSON.parse(request.payload) : {};
    } catch (error) {
      settle(new RuntimeError("Runtime.UnmarshalError", `Unable to unmarshal input: ${error.message}`));
      return;
    }
    const context = makeContext(request, settle);
    const callback = (error, result) => settle(error == null ? null : error, result);
    try {
      if (handler[STREAMING]) {
        invokeStreaming(handler, event, context, settle);
        return;
      }
      const returned = handler(event, context, callback);
      if (returned && typeof returned.then === "function") {
        returned.then((result) => settle(null, result), (error) => settle(error == null ? HANDLED : error));
      } else if (handler.length < 3) {
        settle(null, returned); // neither a promise nor a callback: the result is what it returned
      }
    } catch (error) {
      settle(error);
    }
  });
}

function finish(outcome) {
  let error = outcome.error;
  let result = outcome.streamed;
  if (error == null && result === undefined) {
    try {
      // a function or a symbol stringifies to undefined: null, as for undefined
      result = JSON.stringify(outcome.result === undefined ? null : outcome.result);
      if (result === undefined) result = "null";
    } catch (_) {
      error = new Error("Unable to stringify response body"); // AWS's words (RAPIDClient.js)
    }
  }
  if (error != null) {
    if (!outcome.fatal) log("ERROR", `Invoke Error ${formatted(error)}`); // a fatal one was logged as uncaught
    result = JSON.stringify(errorShape(error));
  }
  let failed = error != null;
  if (Buffer.byteLength(result) > MAX_RESPONSE_BYTES) { // an error too: AWS refuses the size, whatever it holds
    failed = true;
    result = JSON.stringify({
      errorMessage: `Response payload size exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`,
      errorType: "Function.ResponseSizeTooLarge",
    });
  }
  send({ result, error: failed, max_rss_kb: peakRssKb(), ...(outcome.fatal ? { fatal: true } : {}) });
}

function initFailed(error, exitCode) {
  send({ init_error: JSON.stringify(errorShape(error)) });
  process.exit(exitCode);
}

// As AWS's runtime (index.mjs, Runtime.js): an uncaught exception is reported as itself, an
// unhandled rejection as Runtime.UnhandledPromiseRejection with the reason as text; logged,
// reported for the invocation in progress or as the init error, and the runtime exits.
function onUncaught(rejection) {
  const exitCode = rejection ? 128 : 129;
  return (reason) => {
    let error = reason;
    if (rejection) {
      let text;
      try {
        text = String(reason);
      } catch (_) {
        text = Object.prototype.toString.call(reason);
      }
      error = new RuntimeError("Runtime.UnhandledPromiseRejection", text);
    }
    log("ERROR", `${rejection ? "Unhandled Promise Rejection" : "Uncaught Exception"} ${formatted(error)}`);
    if (finishInvocation) {
      finishInvocation(error, undefined, true);
    } else if (!ready) {
      initFailed(error, exitCode);
    } else {
      process.exit(exitCode);
    }
  };
}

async function main() {
  // ES modules find NODE_PATH's packages from nodejs18.x on, as on AWS (module.register is in
  // Node 18.19 and later; AWS's older runtimes did not resolve them either)
  const { register } = require("module");
  if (register) register(pathToFileURL(path.join(__dirname, "esm-paths.mjs")).href);
  process.on("uncaughtException", onUncaught(false));
  process.on("unhandledRejection", onUncaught(true));
  let handler;
  try {
    handler = await loadHandler(process.env._HANDLER);
  } catch (error) {
    // AWS's runtime lets it be uncaught: logged as such, posted as the init error, exit 129
    log("ERROR", `Uncaught Exception ${formatted(error)}`);
    initFailed(error, 129);
    return;
  }
  ready = true;
  send({ ready: true });

  let buffer = "";
  let queue = Promise.resolve();
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk) => {
    buffer += chunk;
    let newline;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      queue = queue.then(() => handle(line, handler));
    }
  });
  process.stdin.on("end", () => process.exit(0));
}

async function handle(line, handler) {
  let request;
  try {
    request = JSON.parse(line);
  } catch (error) {
    finish({ error: new RuntimeError("Runtime.UnmarshalError", `Unable to read the invocation: ${error.message}`) });
    return;
  }
  currentRequestId = request.request_id;
  const outcome = await invoke(handler, request);
  finishInvocation = null;
  finish(outcome);
  currentRequestId = undefined;
}

main();
