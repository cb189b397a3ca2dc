from dagster import DynamicPartitionsDefinition

# One partition per jackpot card, keyed by the card's jackpot_id (added by jackpot_card_sensor or predict_cards).
jackpot_partitions = DynamicPartitionsDefinition(name="jackpots")
