import {
  type MethodDefinition,
  Server,
  ServerCredentials,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { grpc } from "@permify/permify-node";
import { PermifyBackend, PermifyFault } from "./permify-backend";

/**
 * Stand-in for Permify's gRPC API on 127.0.0.1:0, built from the ts-proto service definitions
 * shipped in `@permify/permify-node` (no hand-written protos). Only the methods the adapter uses.
 */
const P = grpc.payload;
type Codec<T> = {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
};
type TsProtoMethod<Req, Res> = { name: string; requestType: Codec<Req>; responseType: Codec<Res> };
type Service = { fullName: string; methods: object };

export type GrpcStandIn = { endpoint: string; backend: PermifyBackend; close(): void };

export async function startPermifyGrpc(auth: {
  tenant: string;
  apiKey: string;
}): Promise<GrpcStandIn> {
  const backend = new PermifyBackend(auth);
  const server = new Server();

  const add = (entries: Entry[]) => {
    const definition: Record<string, ServiceDefinition[string]> = {};
    const implementation: UntypedServiceImplementation = {};
    for (const { name, method, handler } of entries) {
      definition[name] = method;
      implementation[name] = handler;
    }
    server.addService(definition, implementation);
  };
  const unary = <Req extends { tenantId: string }, Res>(
    service: Service,
    method: TsProtoMethod<Req, Res>,
    run: (m: Req) => Promise<Res>,
  ): Entry => ({
    name: method.name,
    method: methodDefinition(service, method),
    handler: (call, callback) => {
      const message = call.request as Req;
      const authorization = call.metadata.get("authorization")[0]?.toString();
      const name = `${service.fullName}.${method.name}`;
      backend
        .admit(name, message.tenantId, authorization, message)
        .then(() => run(message))
        .then(
          (res) => callback(null, res),
          (error: unknown) =>
            error instanceof PermifyFault
              ? callback({ code: error.grpcCode, details: error.message })
              : callback({ code: 13, details: String(error) }),
        );
    },
  });

  const perm = P.PermissionDefinition;
  add([
    unary(perm, perm.methods.check, (m) => backend.check(m)),
    unary(perm, perm.methods.lookupEntity, (m) => backend.lookupEntity(m)),
    unary(perm, perm.methods.lookupSubject, (m) => backend.lookupSubject(m)),
  ]);
  const data = P.DataDefinition;
  add([
    unary(data, data.methods.write, (m) => backend.writeData(m)),
    unary(data, data.methods.delete, (m) => backend.deleteData(m)),
  ]);
  const schema = P.SchemaDefinition;
  add([unary(schema, schema.methods.write, (m) => backend.writeSchema(m))]);

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    ),
  );
  return { endpoint: `127.0.0.1:${port}`, backend, close: () => server.forceShutdown() };
}

type Entry = { name: string; method: ServiceDefinition[string]; handler: Handler };
type Handler = (
  call: { request: unknown; metadata: { get(key: string): (string | Buffer)[] } },
  callback: (error: { code: number; details: string } | null, value?: unknown) => void,
) => void;

/** grpc-js method definition from a ts-proto one: path `/pkg.Service/Method`, binary codecs. */
function methodDefinition<Req, Res>(
  service: Service,
  method: TsProtoMethod<Req, Res>,
): MethodDefinition<Req, Res> {
  return {
    path: `/${service.fullName}/${method.name}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: (m) => Buffer.from(method.requestType.encode(m).finish()),
    requestDeserialize: (b) => method.requestType.decode(b),
    responseSerialize: (m) => Buffer.from(method.responseType.encode(m).finish()),
    responseDeserialize: (b) => method.responseType.decode(b),
  };
}
