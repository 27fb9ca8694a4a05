// After `buf generate`: write the buf image (a FileDescriptorSet with imports) that the gRPC
// kit serves for server reflection, since @grpc/reflection drops imported files.
import { execFileSync } from 'node:child_process';
execFileSync('npx', ['buf', 'build', '-o', 'libs/contracts/src/descriptors.binpb'], { stdio: 'inherit' });
