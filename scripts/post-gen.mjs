// After `buf generate`: write the buf image (a FileDescriptorSet with imports) that the gRPC
// kit serves for server reflection, since @grpc/reflection (1.0.4) drops imported files (see
// libs/grpc-kit/src/reflection.ts).
import { execFileSync } from 'node:child_process';
execFileSync('npx', ['buf', 'build', '-o', 'libs/contracts/src/descriptors.binpb'], { stdio: 'inherit' });
