// A bucket whose uploads/ trigger a Python function: CDK wires the notification through
// its Custom::S3BucketNotifications resource (a Lambda-backed custom resource).
const cdk = require('aws-cdk-lib');
const lambda = require('aws-cdk-lib/aws-lambda');
const s3 = require('aws-cdk-lib/aws-s3');
const s3n = require('aws-cdk-lib/aws-s3-notifications');

const HANDLER = `
import boto3


def handler(event, context):
    s3 = boto3.client("s3")
    for record in event["Records"]:
        bucket, key = record["s3"]["bucket"]["name"], record["s3"]["object"]["key"]
        s3.put_object(Bucket=bucket, Key="processed/" + key.split("/", 1)[1], Body=b"seen " + key.encode())
`;

const app = new cdk.App();
// Inline code only, no assets: the stack deploys without `cdk bootstrap`.
const stack = new cdk.Stack(app, process.env.CDK_PROBE_STACK || 'EngineCdkProbe', {
  synthesizer: new cdk.BootstraplessSynthesizer(),
});
const bucket = new s3.Bucket(stack, 'Uploads', { removalPolicy: cdk.RemovalPolicy.DESTROY });
const fn = new lambda.Function(stack, 'OnUpload', {
  runtime: lambda.Runtime.PYTHON_3_11,
  handler: 'index.handler',
  code: lambda.Code.fromInline(HANDLER),
});
bucket.grantReadWrite(fn);
bucket.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.LambdaDestination(fn), { prefix: 'uploads/' });
new cdk.CfnOutput(stack, 'BucketName', { value: bucket.bucketName });
