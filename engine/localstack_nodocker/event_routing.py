"""EventBridge routing events again after a restart.

LocalStack's events provider keeps buses and rules in its store, which the engine's state
saves and loads, but routes events through services and target senders it holds only in
memory: it builds them on PutRule and PutTargets, and nothing rebuilds them when its store is
loaded (``on_after_state_load``). Without them every event after a restart (the S3 events
that reach the image processor and the storage counter among them) fails with a KeyError,
and a scheduled rule never runs again. Called by restore.py once the events store is loaded;
reads the provider's internals, seam.py targets (EVENTS_RESTART).
"""


def rebuild_event_routing(provider, report) -> None:
    """EventBridge keeps buses and rules in its store, but routes events through services and
    target senders it holds only in memory (the provider builds them on PutRule and
    PutTargets): rebuild them from the loaded rules, or every event after a restart (the S3
    events that reach the image processor and the storage counter among them) would fail
    with a KeyError. A scheduled rule with targets gets its schedule job again, as PutTargets
    arms it (the notification claim sweep runs on one)."""
    from localstack.services.events.event_bus import EventBusService
    from localstack.services.events.models import events_stores
    from localstack.services.events.rule import RuleService

    for account_id, region, store in events_stores.iter_stores():
        for bus in store.event_buses.values():
            provider._event_bus_services_store[bus.arn] = EventBusService(bus)
            for rule in bus.rules.values():
                rule_service = provider._rule_services_store[rule.arn] = RuleService(rule)
                for target in rule.targets.values():
                    try:
                        provider.create_target_sender(target, rule.arn, rule.name, region, account_id)
                    except Exception as exc:
                        report(f"target {target.get('Id')} of rule {rule.arn}", f"{type(exc).__name__}: {exc}")
                if rule_service.schedule_cron and rule.targets:
                    try:
                        job = provider._get_scheduled_rule_job_function(account_id, region, rule)
                        rule_service.create_schedule_job(job)
                    except Exception as exc:
                        report(f"schedule of rule {rule.arn}", f"{type(exc).__name__}: {exc}")
