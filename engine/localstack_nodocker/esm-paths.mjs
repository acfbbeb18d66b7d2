// ES module resolution hook for worker.js: a bare specifier (`@aws-sdk/client-s3`, a layer's
// package) that the function's own node_modules does not have is looked up in the NODE_PATH
// folders, as AWS's Node.js runtimes make the SDK and layers importable from ES modules
// (plain Node ignores NODE_PATH for `import`).
import path from "node:path";
import { pathToFileURL } from "node:url";

const FOLDERS = (process.env.NODE_PATH || "").split(":").filter((folder) => folder.endsWith("node_modules"));

function isBare(specifier) {
  return !/^(\.{0,2}\/|[a-z]+:)/.test(specifier);
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (error.code !== "ERR_MODULE_NOT_FOUND" || !isBare(specifier)) throw error;
    for (const folder of FOLDERS) {
      try {
        // resolving from a file beside `folder` searches `folder` itself
        return await nextResolve(specifier, { ...context, parentURL: pathToFileURL(path.join(path.dirname(folder), "index.mjs")).href });
      } catch {
        // not in this folder: try the next
      }
    }
    throw error;
  }
}
